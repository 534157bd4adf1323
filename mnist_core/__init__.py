"""mnist_core: train, evaluate and use a handwritten-digit classifier."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) is noise for our users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
