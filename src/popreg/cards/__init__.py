"""Citizen identity cards: their lifecycle, MRZ and QR text, pictures and offline checks.

:mod:`popreg.cards.rules` holds the law (renewal ages, kinds of application, statuses), pure;
:mod:`popreg.cards.service` the lifecycle (apply, produce, issue, cancel) and reads;
:mod:`popreg.cards.checks` the offline check of a scanned card; :mod:`popreg.cards.render` and
:mod:`popreg.cards.drawing` the card's front and back as SVG, PNG and PDF. :mod:`popreg.cards.mrz`
writes and reads the ICAO 9303 machine-readable zone (MRZ) and :mod:`popreg.cards.qr` the text of
the card's QR code; their readers never raise on bad input: they say what they could not read.
"""
