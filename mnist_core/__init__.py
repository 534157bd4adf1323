"""mnist_core: train, evaluate and use a handwritten-digit classifier."""

import os

# TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512's neural-network
# instructions; without them (AVX2: most AMD and older Intel CPUs) convolutions train far
# slower (bench/onednn.py). Set before any module imports TensorFlow; a setting of the user's
# own wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
