"""Audio: the synthetic keyword data set (espeak-ng speech + generated noise) and the fixed-point front end that
turns 1 s of 16 kHz int16 audio into the int8 log-mel features a keyword model reads (one C implementation,
firmware/lib/tinykd_frontend, called here through ctypes)."""
