"""Training of the embedded landmark network (`python main.py train`) and its losses."""
