"""Body models: SMPL via smplx, the embedded default body, regressors and mesh levels."""
