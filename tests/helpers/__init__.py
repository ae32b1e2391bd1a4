"""Plain helpers shared by the test files (fixtures live in tests/conftest.py).

Test files import from here, never from each other: a helper a second file needs
moves here, so every test file can be read, run and deleted on its own.
"""
