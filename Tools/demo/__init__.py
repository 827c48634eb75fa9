"""The demo model (Samples/model/sample-model.h5): its made clips and its training."""
