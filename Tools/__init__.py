"""telme's maintainer tools: the PyTorch reference of TelME, the test fixture makers, the demo
model's training and the benchmarks. Run them from the repository root as modules,
`python -m Tools.<folder>.<name>` (Tools/README.md lists them)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The shared data (MELD/IEMOCAP CSVs, the RoBERTa tokenizer) next to the checkout.
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
# The fixtures several test targets share (SharedFixtures in Swift).
SHARED_FIXTURES = os.path.join(ROOT, "Tests", "TelmeTestSupport", "Fixtures")
# The real exporter, which every tool that writes a model runs.
EXPORTER = os.path.join(ROOT, "Scripts", "export_hdf5.py")
