"""speechqa: speech analytics for contact-centre quality assurance."""

__version__ = "0.1.0"
