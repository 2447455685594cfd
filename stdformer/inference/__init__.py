"""Observations -> body meshes: the streaming predictor, its rolling buffer, the model input
adapter and temporal smoothing."""
