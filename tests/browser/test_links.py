"""The browser tests' link signer (links.py) writes exactly the tokens billing-api signs: the
vectors are the ones `links::tests::known_subjects_sign_to_known_tokens` pins in Rust."""

from links import sign_link

NOV_30_2026_10_00_UTC = 1796032800


def test_the_python_signer_writes_the_tokens_the_rust_signer_writes() -> None:
    assert (
        sign_link("local-link-secret", "purchase", "acct_1", "cp_123", NOV_30_2026_10_00_UTC)
        == "v1.AQAAAABrDUkgBmFjY3RfMWNwXzEyM_UiNV20wCsBjTlq5apnOTI"
    )
    assert (
        sign_link("local-link-secret", "invoice", "acct_1", "in_202610", NOV_30_2026_10_00_UTC)
        == "v1.AgAAAABrDUkgBmFjY3RfMWluXzIwMjYxMAJtW5tGJdBJec70C_SxoU8"
    )
