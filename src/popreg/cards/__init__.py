"""The machine-readable parts of identity documents: the MRZ and the card's QR payload.

Pure code, no database and no web: :mod:`popreg.cards.mrz` writes the ICAO 9303 machine-readable
zone (MRZ) of a Vietnamese citizen identity card and reads any TD1, TD2 or TD3 zone;
:mod:`popreg.cards.qr` writes and reads the text carried by the QR code printed on the card.
Readers never raise on bad input: they say what they could not read.
"""
