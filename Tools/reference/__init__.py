"""The PyTorch reference of TelME: the authors' modules, the teacher input, the pipeline, and the
corpora and random models telme is checked against."""
