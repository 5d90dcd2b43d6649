"""Input side: data streams -> one lazy master DataFrame (one row per sample) for training or prediction."""
