"""Qt-free model: features, the cached index, KNN voting and evaluation."""
