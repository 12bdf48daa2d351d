"""BAGEL's live previews on the CPU: a full decode by FLUX's autoencoder vs the linear latent→RGB preview.

Builds BAGEL's own AutoEncoder at the size `load_ae` hard-codes (FLUX's: ch 128, 2 res blocks, 16
latent channels; random weights: the cost does not depend on them) in float32 on the CPU, as BAGEL's
app.py keeps it, and times, for one SIDE² image: the full decode (what a preview cost before, and what
the final image still costs), the one-off fit of the linear projection at load
(studio/engines/bagel/autoencoder.py), and one linear preview. Run with BAGEL's environment:
    PYTHONPATH=. .bagel-env/bin/python bench/bagel_preview.py ../shared/third_party/Bagel [SIDE]
Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time


def main(clone: str, side: int = 256) -> None:
    sys.path.insert(0, clone)
    from studio.engines.bagel import attention, autoencoder

    attention.install()  # BAGEL's modeling package imports flash_attn
    import torch
    from modeling.autoencoder import load_ae

    torch.manual_seed(0)
    vae, _ = load_ae(local_path=None)  # FLUX's size, random weights (no file to load)
    vae.eval()
    latent = torch.randn(1, 16, side // 8, side // 8)
    with torch.no_grad():
        started = time.perf_counter()
        vae.decode(latent)
        decode_s = time.perf_counter() - started
        started = time.perf_counter()
        projection = autoencoder.fit_projection(vae, size=128, images=1)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(10):
            autoencoder.linear_preview(latent, projection)
        preview_s = (time.perf_counter() - started) / 10
    print(
        json.dumps(
            {
                "side": side,
                "threads": torch.get_num_threads(),
                "full_decode_s": round(decode_s, 2),
                "linear_fit_at_load_s": round(fit_s, 2),
                "linear_preview_s": round(preview_s, 4),
                "ratio": round(decode_s / preview_s),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 256)
