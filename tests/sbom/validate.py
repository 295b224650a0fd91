"""Validates an SBOM that `airlift sbom` wrote, with independent libraries.

    validate.py cyclonedx FILE COUNT   CycloneDX 1.6 JSON: the schema
                                       (cyclonedx-python-lib's strict
                                       validator), then the library's own
                                       model reads it back
    validate.py spdx FILE COUNT        SPDX 2.3 JSON: spdx-tools parses it
                                       and runs its full validation

Both also check that the document lists COUNT packages, each with a
package URL that packageurl-python parses and a SHA-256 hash. The SBOM of
an image (`cyclonedx-image`, `spdx-image`) lists what its layers install,
read from package databases that state no file hashes: there, packages need
no hash. Exits 1 with the reasons on any failure.
"""

import json
import sys

from packageurl import PackageURL


def cyclonedx(path, hashes=True):
    from cyclonedx.model.bom import Bom
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    with open(path, encoding="utf-8") as f:
        text = f.read()
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        return [f"schema: {error}"], 0
    bom = Bom.from_json(json.loads(text))
    problems = []
    for component in bom.components:
        if component.purl is None:
            problems.append(f"{component.name}: no purl")
        else:
            PackageURL.from_string(str(component.purl))
        if not hashes:
            continue
        algorithms = {h.alg.value for h in component.hashes}
        if "SHA-256" not in algorithms:
            problems.append(f"{component.name}: no SHA-256 ({algorithms})")
    return problems, len(bom.components)


def spdx(path, hashes=True):
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import (
        validate_full_spdx_document,
    )

    document = parse_file(path)
    problems = [m.validation_message for m in validate_full_spdx_document(document)]
    for package in document.packages:
        purls = [r.locator for r in package.external_references if r.reference_type == "purl"]
        if len(purls) != 1:
            problems.append(f"{package.name}: {len(purls)} purls")
        for purl in purls:
            PackageURL.from_string(purl)
        if hashes and not any(c.algorithm.name == "SHA256" for c in package.checksums):
            problems.append(f"{package.name}: no SHA-256")
    return problems, len(document.packages)


def main():
    kind, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    problems, found = {
        "cyclonedx": cyclonedx,
        "spdx": spdx,
        "cyclonedx-image": lambda p: cyclonedx(p, hashes=False),
        "spdx-image": lambda p: spdx(p, hashes=False),
    }[kind](path)
    if not problems and found != count:
        problems.append(f"{found} packages, expected {count}")
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
