"""The web stack (infra/stacks/web.py) on the one synthesized assembly: a private bucket read through
OAC, the bundle's paths from S3 and the rest from API Gateway, the SPA fallback (the CloudFront
Functions run in node), the headers, the Cognito app client and the /config.json that names it."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from infra import web_bundle
from tests.infra.conftest import resources
from tlm.web_static import CSP, is_ui_path

pytestmark = pytest.mark.infra


def _one(template: dict, type_: str) -> tuple[str, dict]:
    ((lid, res),) = resources(template, type_).items()
    return lid, res["Properties"]


def _config(template: dict) -> dict:
    return _one(template, "AWS::CloudFront::Distribution")[1]["DistributionConfig"]


def _origins(template: dict) -> tuple[str, str]:
    """(S3 origin id, API origin id)."""
    origins = _config(template)["Origins"]
    (s3,) = [o["Id"] for o in origins if "S3OriginConfig" in o]
    (api,) = [o["Id"] for o in origins if "CustomOriginConfig" in o]
    return s3, api


def _deployment(template: dict, prefix: str) -> dict:
    (props,) = [
        r["Properties"]
        for lid, r in template["Resources"].items()
        if r["Type"] == "Custom::CDKBucketDeployment" and lid.startswith(prefix)
    ]
    return props


def _site_bucket(template: dict) -> tuple[str, dict]:
    return _one(template, "AWS::S3::Bucket")


def test_bucket_is_private_encrypted_tls_only_and_read_by_this_distribution_only(templates):
    t = templates["Web"]
    bucket_id, bucket = _site_bucket(t)
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]  # no ACLs
    assert "WebsiteConfiguration" not in bucket and "LoggingConfiguration" in bucket
    (policy,) = [p["Properties"] for p in resources(t, "AWS::S3::BucketPolicy").values()]
    statements = policy["PolicyDocument"]["Statement"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [
        s.get("Condition") for s in statements if s["Effect"] == "Deny"
    ]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    dist_id, _ = _one(t, "AWS::CloudFront::Distribution")
    assert {"Ref": dist_id} in json.loads(json.dumps(allow["Condition"]["StringEquals"]["AWS:SourceArn"]))["Fn::Join"][
        1
    ]
    # Origin Access Control (SigV4, always), no legacy origin access identity
    oac_id, oac = _one(t, "AWS::CloudFront::OriginAccessControl")
    cfg = oac["OriginAccessControlConfig"]
    assert (cfg["OriginAccessControlOriginType"], cfg["SigningBehavior"], cfg["SigningProtocol"]) == (
        "s3", "always", "sigv4"
    )  # fmt: skip
    (s3_origin,) = [o for o in _config(t)["Origins"] if "S3OriginConfig" in o]
    assert s3_origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert s3_origin["S3OriginConfig"].get("OriginAccessIdentity", "") == ""
    assert s3_origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}


def test_the_bundle_paths_come_from_s3_and_every_other_path_from_the_api(templates):
    config = _config(templates["Web"])
    s3, api = _origins(templates["Web"])
    by_pattern = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert {p for p, b in by_pattern.items() if b["TargetOriginId"] == s3} == {
        *web_bundle.UI_PATTERNS, *web_bundle.FILE_PATTERNS
    }  # fmt: skip
    assert "/config.json" in by_pattern
    default = config["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == api
    assert default["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled
    # Managed-AllViewerExceptHostHeader: Authorization reaches the Cognito authorizer, Host stays API Gateway's
    assert default["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    assert set(default["AllowedMethods"]) >= {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
    assert default["ViewerProtocolPolicy"] == "https-only"
    (api_origin,) = [o for o in config["Origins"] if o["Id"] == api]
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert "v1" in json.dumps(templates["Api"]) and api_origin["OriginPath"]  # the API stage
    # the same split as tlm serve: a pattern matches exactly the paths is_ui_path gives the bundle
    samples = ["/ui", "/ui/", "/ui/projects/p1", "/assets/index-1.js", "/favicon.svg", "/config.json",
               "/projects", "/projects/p1/models", "/me", "/health", "/openapi.json", "/uiX", "/models/ui"]  # fmt: skip
    for path in samples:
        served = any(fnmatch.fnmatchcase(path, p) for p in by_pattern)
        assert served == (is_ui_path(path) and path != "/"), path  # "/" is redirected to /ui/


def _run_function(code: str, uri: str) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    event = json.dumps({"request": {"uri": uri, "headers": {}}})
    script = f"{code}\nprocess.stdout.write(JSON.stringify(handler({event})));"
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def test_spa_fallback_and_root_redirect_functions(templates):
    t = templates["Web"]
    functions = [r["Properties"] for r in resources(t, "AWS::CloudFront::Function").values()]
    assert sorted(p["FunctionCode"] for p in functions) == sorted([web_bundle.SPA_REWRITE, web_bundle.ROOT_REDIRECT])
    assert all(p["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0" for p in functions)
    ids = {r["Properties"]["FunctionCode"]: lid for lid, r in resources(t, "AWS::CloudFront::Function").items()}
    config = _config(t)
    for b in config["CacheBehaviors"]:
        arns = [a["FunctionARN"]["Fn::GetAtt"][0] for a in b.get("FunctionAssociations", [])]
        assert arns == ([ids[web_bundle.SPA_REWRITE]] if b["PathPattern"] in web_bundle.UI_PATTERNS else []), b
    assert [a["FunctionARN"]["Fn::GetAtt"][0] for a in config["DefaultCacheBehavior"]["FunctionAssociations"]] == [
        ids[web_bundle.ROOT_REDIRECT]
    ]
    # what they do (run in node, as CloudFront's JS runtime would)
    assert _run_function(web_bundle.SPA_REWRITE, "/ui/pipelines/p1/v/2")["uri"] == "/index.html"
    redirect = _run_function(web_bundle.ROOT_REDIRECT, "/")
    assert (redirect["statusCode"], redirect["headers"]["location"]["value"]) == (302, "/ui/")
    assert _run_function(web_bundle.ROOT_REDIRECT, "/projects")["uri"] == "/projects"


def _flat(value: object) -> str:
    """A CloudFormation string expression with every reference as <ref>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_flat(p) for p in parts)
    return "<ref>"


def test_ui_responses_carry_tlm_serves_csp_and_security_headers(templates):
    (policy,) = [p["Properties"]["ResponseHeadersPolicyConfig"]
                 for p in resources(templates["Web"], "AWS::CloudFront::ResponseHeadersPolicy").values()]  # fmt: skip
    headers = policy["SecurityHeadersConfig"]
    csp = _flat(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])

    def directives(text: str) -> dict[str, str]:
        return {d.split(" ", 1)[0]: d for d in (x.strip() for x in text.split(";")) if d}

    aws, local = directives(csp), directives(CSP)
    assert aws.keys() == local.keys()
    assert {k: v for k, v in aws.items() if k != "connect-src"} == {
        k: v for k, v in local.items() if k != "connect-src"
    }
    extra = aws["connect-src"].split()[2:]  # after connect-src 'self'
    assert aws["connect-src"].startswith("connect-src 'self' ") and "'unsafe-inline'" not in aws["connect-src"]
    assert [e for e in extra if e.endswith(".amazoncognito.com")] == ["https://<ref>.auth.<ref>.amazoncognito.com"]
    assert all(e.startswith("https://tlm-") and ".amazonaws.com" in e for e in extra if "cognito" not in e), extra
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    s3, _ = _origins(templates["Web"])
    policy_id = _one(templates["Web"], "AWS::CloudFront::ResponseHeadersPolicy")[0]
    for b in _config(templates["Web"])["CacheBehaviors"]:
        assert b["ResponseHeadersPolicyId"] == {"Ref": policy_id}, b["PathPattern"]


def test_web_app_client_is_code_grant_only_with_the_distribution_as_callback(templates):
    t = templates["Web"]
    _, client = _one(t, "AWS::Cognito::UserPoolClient")
    dist_id, _ = _one(t, "AWS::CloudFront::Distribution")
    site = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [dist_id, "DomainName"]}, web_bundle.CALLBACK_PATH]]}
    assert client["AllowedOAuthFlows"] == ["code"] and client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["GenerateSecret"] is False  # a public client: PKCE
    assert client["CallbackURLs"] == [site]
    assert _flat(client["LogoutURLs"][0]) == "https://<ref>" + web_bundle.SIGNED_OUT_PATH
    assert client["AllowedOAuthScopes"] == list(web_bundle.OAUTH_SCOPES)
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert "ALLOW_USER_PASSWORD_AUTH" not in client["ExplicitAuthFlows"]  # passwords go to the hosted UI only
    assert client["EnableTokenRevocation"] is True and client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["IdTokenValidity"] == 60 and client["RefreshTokenValidity"] <= 24 * 60
    # the API's user pool (the one its authorizer trusts), with a hosted-UI domain
    (pool_id,) = resources(templates["Api"], "AWS::Cognito::UserPool")
    assert pool_id in json.dumps(client["UserPoolId"])
    _, domain = _one(t, "AWS::Cognito::UserPoolDomain")
    assert domain["UserPoolId"] == client["UserPoolId"] and _flat(domain["Domain"]) == "tlm-<ref>"


def test_config_json_names_the_api_pool_client_and_hosted_ui(templates, assembly):
    t = templates["Web"]
    pages = _deployment(t, "Pages")
    keys = [k.removesuffix(".zip") for k in pages["SourceObjectKeys"]]
    (with_markers,) = [i for i, m in enumerate(pages["SourceMarkers"]) if m]
    text = (assembly.outdir / f"asset.{keys[with_markers]}" / web_bundle.CONFIG_KEY).read_text()
    for marker, value in pages["SourceMarkers"][with_markers].items():
        text = text.replace(marker, json.dumps(value))  # each marker stands for a JSON string
    config = json.loads(text)
    client_id, client = _one(t, "AWS::Cognito::UserPoolClient")
    domain_id, _ = _one(t, "AWS::Cognito::UserPoolDomain")

    def expr(v: dict) -> object:  # '"' + X + '"' -> X
        parts = v["Fn::Join"][1]
        assert parts[0].startswith('"') and parts[-1].endswith('"')
        inner = [parts[0][1:], *parts[1:-1], parts[-1][:-1]] if len(parts) > 1 else [parts[0][1:-1]]
        return {"Fn::Join": ["", [p for p in inner if p != ""]]}

    auth = config["auth"]
    assert auth["kind"] == "cognito" and auth["scopes"] == list(web_bundle.OAUTH_SCOPES)
    assert expr(auth["redirectUri"]) == client["CallbackURLs"][0]  # exactly the client's callback
    assert expr(auth["logoutUri"]) == client["LogoutURLs"][0]
    assert expr(auth["clientId"]) == {"Fn::Join": ["", [{"Ref": client_id}]]}
    assert expr(auth["userPoolId"]) == {"Fn::Join": ["", [client["UserPoolId"]]]}
    assert {"Ref": domain_id} in expr(auth["domain"])["Fn::Join"][1]
    assert _flat(expr(auth["domain"])).endswith(".amazoncognito.com")
    assert _flat(expr(config["apiUrl"])) == "https://<ref>"  # the API is on the site's origin
    # the bundle asset itself holds no config.json: /config.json is only the deployed one
    bundle = [k for i, k in enumerate(keys) if i != with_markers]
    assert bundle and not (assembly.outdir / f"asset.{bundle[0]}" / web_bundle.CONFIG_KEY).exists()
    assert (assembly.outdir / f"asset.{bundle[0]}" / "index.html").exists()


def test_bundle_deployments_keep_old_assets_and_refresh_pages(templates):
    t = templates["Web"]
    assets, pages = _deployment(t, "Assets"), _deployment(t, "Pages")
    assert (assets["Include"], assets["Exclude"], assets["Prune"]) == (["assets/*"], ["*"], False)
    assert assets["SystemMetadata"]["cache-control"] == "public, max-age=31536000, immutable"
    assert (pages["Exclude"], pages["Prune"]) == (["assets/*"], True)
    assert pages["SystemMetadata"]["cache-control"] == "no-cache"
    assert {"/index.html", "/config.json", "/ui/*"} <= set(pages["DistributionPaths"])
    (pages_id,) = [lid for lid, r in t["Resources"].items() if lid.startswith("PagesCustomResource")]
    (assets_id,) = [lid for lid, r in t["Resources"].items() if lid.startswith("AssetsCustomResource")]
    assert assets_id in t["Resources"][pages_id].get("DependsOn", [])


def test_synth_fails_naming_make_web_when_the_bundle_is_missing(tmp_path: Path):
    with pytest.raises(web_bundle.MissingBundle, match="make web"):
        web_bundle.bundle_dir(tmp_path / "dist")
    (tmp_path / "dist" / "assets").mkdir(parents=True)
    (tmp_path / "dist" / "index.html").write_text("<!doctype html>")
    assert web_bundle.bundle_dir(tmp_path / "dist") == tmp_path / "dist"
    local = json.loads((web_bundle.REPO / "web" / "public" / web_bundle.CONFIG_KEY).read_text())
    assert local["auth"] == {"kind": "token"}  # tlm serve: token sign-in


def test_data_buckets_let_the_ui_origin_put_parts_and_read_answers(templates):
    for bucket in resources(templates["Storage"], "AWS::S3::Bucket").values():
        rules = bucket["Properties"].get("CorsConfiguration", {}).get("CorsRules")
        if "BucketName" not in bucket["Properties"]:  # the access-log bucket: nobody's browser
            assert rules is None
            continue
        (rule,) = rules
        assert set(rule["AllowedMethods"]) == {"PUT", "GET", "HEAD"} and rule["ExposedHeaders"] == ["ETag"]
        assert rule["AllowedOrigins"] == ["https://*.cloudfront.net"]  # the distribution's domain
