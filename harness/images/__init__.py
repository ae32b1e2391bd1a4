"""Images: ELF inspection, CPIO archives, guest builds and packaging."""
