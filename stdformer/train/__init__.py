"""Training and evaluation of the embedded landmark network (`python main.py train|evaluate`)."""
