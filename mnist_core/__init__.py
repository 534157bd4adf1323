"""mnist_core: train, evaluate and use a handwritten-digit classifier."""
