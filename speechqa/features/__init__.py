"""Pure functions over `(signal, sample_rate_hz)`: no file is ever opened here.

Conventions shared by every feature module:
- a signal is a 1-D float32 numpy array in [-1, 1] (one channel);
- time intervals are float64 arrays of shape (n, 2): [start_s, end_s] rows, sorted,
  non-overlapping;
- results are frozen dataclasses whose field names carry their units.
"""
