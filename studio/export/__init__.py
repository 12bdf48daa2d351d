"""Export steered sessions as training data, and import them back.

`export(store, format, out_dir, ...)` writes the paper's three subsets as `bagel`,
`think-trace`, `vlm-sft`, `hf` or `folder`; `export_zip` wraps it for a download;
`import_path(store, path)` reads a `folder`/`hf` export or a final PNG back in. Nothing
here imports pyarrow until a parquet format is written or read.
"""

from .api import ExportReport, export, export_zip
from .formats import FORMATS
from .roundtrip import ImportReport, import_path, import_png_bytes

__all__ = [
    "FORMATS",
    "ExportReport",
    "ImportReport",
    "export",
    "export_zip",
    "import_path",
    "import_png_bytes",
]
