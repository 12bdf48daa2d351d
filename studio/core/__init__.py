"""The pure core: sessions, steps and trajectories (domain) and their one JSON codec (codec), people,
the loop's texts (protocol, tagged), the PNG chunk (pngmeta), and the boundary's checks (limits,
untrusted).

Nothing here imports torch, gradio, SQLAlchemy, the store or an engine.
"""
