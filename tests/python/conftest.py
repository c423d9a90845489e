import sys
from pathlib import Path

# Use the in-repo binding without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
