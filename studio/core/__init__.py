"""The pure core: sessions, steps and trajectories, people, the loop's texts, and the boundary's checks.

Nothing here imports torch, gradio, SQLAlchemy, the store or an engine.
"""
