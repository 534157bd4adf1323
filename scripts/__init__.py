"""Scripts that build data sets into data/ (git-ignored); tests and benches import them."""
