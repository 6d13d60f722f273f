from scripts.export_openapi import TARGET, render


def test_the_checked_in_openapi_document_matches_the_app():
    assert TARGET.read_text() == render(), "openapi/openapi.json is stale: run `python scripts/export_openapi.py`"


def test_every_operation_documents_its_errors():
    import json

    doc = json.loads(render())
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if path not in ("/healthz", "/readyz"):
                assert "401" in codes, (method, path)
            if method == "post" and path == "/generate":
                assert {"202", "413", "422", "503"} <= codes
