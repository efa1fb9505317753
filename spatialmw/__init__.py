"""spatialmw — binaural spatial-audio middleware (Lite-INN: TDW + implicit binaural corrector)."""
__version__ = "0.1.0"
VERSION_TUPLE = (0, 1, 0)
