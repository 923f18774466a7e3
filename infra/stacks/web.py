"""Web: the browser UI from a private S3 bucket behind CloudFront, signing in through Cognito's hosted UI.

- **Bucket**: private (block public access, S3-managed encryption, TLS only, access logs); read by
  CloudFront only, through Origin Access Control (the bucket policy names this distribution).
- **One distribution, one origin for the browser**: the paths the bundle owns
  (``infra.web_bundle.UI_PATTERNS`` / ``FILE_PATTERNS``, the list of ``tlm.web_static.is_ui_path``) come
  from the bucket; every other path is the API's and goes to API Gateway (caching off, every viewer
  header but Host forwarded, so ``Authorization`` reaches the Cognito authorizer). The SPA therefore
  calls the API on its own origin exactly as under ``tlm serve``: no CORS and no preflight requests.
  ``/ui`` and ``/ui/*`` are rewritten to ``/index.html`` by a CloudFront Function (SPA fallback);
  ``/`` redirects to ``/ui/``.
- **Headers**: the UI's responses carry ``tlm serve``'s CSP (``connect-src`` widened to the Cognito
  domain and the data buckets: ``infra.web_bundle.aws_csp``), HSTS, nosniff, frame DENY, no-referrer.
- **Deployment**: ``web/dist`` (``make web``; synth fails naming it when missing) by two
  BucketDeployments: hashed ``assets/*`` (immutable, never pruned, so an open tab still finds its
  chunks after a deploy), then ``index.html``, root files and ``/config.json`` (no-cache, pruned,
  invalidated). ``/config.json`` carries the API URL and the Cognito pool, app client and hosted-UI
  domain, so the same bundle runs locally (``web/public/config.json``: token sign-in) and here.
- **Cognito**: the API's user pool gets a hosted-UI domain (prefix: context ``tlm:auth-domain``, default
  ``<prefix>-<account>``) and a public app client for the SPA: authorization code grant only (the
  SPA sends a PKCE S256 challenge), callback ``https://<distribution>/ui/auth/callback``, ID tokens of
  1 h (what the API's authorizer reads) and refresh tokens of 12 h, revocable.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudfront as cf
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra import web_bundle
from infra.stacks.api import ApiStack
from infra.stacks.storage import BUCKET_KINDS, StorageStack, bucket_name

ASSETS_CACHE = "public, max-age=31536000, immutable"  # tlm.web_static.IMMUTABLE


class WebStack(Stack):
    def __init__(self, scope: Construct, id: str, *, storage: StorageStack, api: ApiStack, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        dist = web_bundle.bundle_dir(self.node.try_get_context("tlm:web-dist"))
        prefix = storage.prefix.lower()

        self.bucket = s3.Bucket(
            self,
            "Site",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=storage.access_logs_bucket,
            server_access_logs_prefix="web/",
            removal_policy=RemovalPolicy.DESTROY,  # a build output: `make deploy` puts it back
            auto_delete_objects=False,
        )
        self.auth_domain = cognito.UserPoolDomain(
            self,
            "AuthDomain",
            user_pool=api.user_pool,
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=self.node.try_get_context("tlm:auth-domain") or f"{prefix}-{Aws.ACCOUNT_ID}"
            ),
        )
        auth_url = self.auth_domain.base_url()
        data_origins = [
            f"https://{bucket_name(storage.prefix, kind, storage.suffix)}.s3{sep}amazonaws.com"
            for kind in BUCKET_KINDS
            for sep in (".", f".{Aws.REGION}.")
        ]
        ui_headers = cf.ResponseHeadersPolicy(
            self,
            "UiHeaders",
            comment="TLM UI: the CSP of tlm serve, HSTS, nosniff, no framing, no referrer",
            security_headers_behavior=cf.ResponseSecurityHeadersBehavior(
                content_security_policy=cf.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=web_bundle.aws_csp([auth_url, *data_origins]), override=True
                ),
                content_type_options=cf.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cf.ResponseHeadersFrameOptions(frame_option=cf.HeadersFrameOption.DENY, override=True),
                referrer_policy=cf.ResponseHeadersReferrerPolicy(
                    referrer_policy=cf.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cf.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
            ),
        )
        site = origins.S3BucketOrigin.with_origin_access_control(self.bucket)

        def ui_behavior(function: cf.Function | None = None) -> cf.BehaviorOptions:
            return cf.BehaviorOptions(
                origin=site,
                viewer_protocol_policy=cf.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cf.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cf.CachePolicy.CACHING_OPTIMIZED,  # follows the objects' Cache-Control
                response_headers_policy=ui_headers,
                compress=True,
                function_associations=[
                    cf.FunctionAssociation(function=function, event_type=cf.FunctionEventType.VIEWER_REQUEST)
                ]
                if function
                else None,
            )

        spa = cf.Function(
            self,
            "SpaRewrite",
            code=cf.FunctionCode.from_inline(web_bundle.SPA_REWRITE),
            runtime=cf.FunctionRuntime.JS_2_0,
            comment="TLM UI: client routes under /ui answer index.html",
        )
        root = cf.Function(
            self,
            "RootRedirect",
            code=cf.FunctionCode.from_inline(web_bundle.ROOT_REDIRECT),
            runtime=cf.FunctionRuntime.JS_2_0,
            comment="TLM: / redirects to the UI at /ui/",
        )
        self.distribution = cf.Distribution(
            self,
            "Distribution",
            comment="TLM browser UI and API",
            default_behavior=cf.BehaviorOptions(
                origin=origins.RestApiOrigin(api.api),
                viewer_protocol_policy=cf.ViewerProtocolPolicy.HTTPS_ONLY,  # never redirect a POST
                allowed_methods=cf.AllowedMethods.ALLOW_ALL,
                cache_policy=cf.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cf.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                response_headers_policy=cf.ResponseHeadersPolicy.SECURITY_HEADERS,
                function_associations=[
                    cf.FunctionAssociation(function=root, event_type=cf.FunctionEventType.VIEWER_REQUEST)
                ],
            ),
            additional_behaviors={
                **{p: ui_behavior(spa) for p in web_bundle.UI_PATTERNS},
                **{p: ui_behavior() for p in web_bundle.FILE_PATTERNS},  # /config.json among them
            },
            minimum_protocol_version=cf.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cf.HttpVersion.HTTP2_AND_3,
            price_class=cf.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=storage.access_logs_bucket,
            log_file_prefix="cloudfront/",
        )
        site_url = "https://" + self.distribution.distribution_domain_name

        self.client = cognito.UserPoolClient(  # in this stack: its callback names the distribution
            self,
            "WebClient",
            user_pool=api.user_pool,
            generate_secret=False,  # a browser app cannot keep one: PKCE instead
            auth_flows=cognito.AuthFlow(user_srp=True),  # refresh tokens; sign-in itself is the hosted UI
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.custom(s) for s in web_bundle.OAUTH_SCOPES],
                callback_urls=[site_url + web_bundle.CALLBACK_PATH],
                logout_urls=[site_url + web_bundle.SIGNED_OUT_PATH],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.hours(12),
        )
        config = web_bundle.runtime_config(
            site_url=site_url,
            api_url=site_url,  # the API's paths are served by this distribution too
            region=Aws.REGION,
            user_pool_id=api.user_pool.user_pool_id,
            client_id=self.client.user_pool_client_id,
            auth_domain_url=auth_url,
        )
        bundle = s3deploy.Source.asset(str(dist), exclude=[web_bundle.CONFIG_KEY, ".*"])
        assets = s3deploy.BucketDeployment(
            self,
            "Assets",
            destination_bucket=self.bucket,
            sources=[bundle],
            exclude=["*"],
            include=["assets/*"],
            prune=False,  # hashed names: older chunks stay for tabs opened before this deploy
            cache_control=[s3deploy.CacheControl.from_string(ASSETS_CACHE)],
            memory_limit=512,
        )
        pages = s3deploy.BucketDeployment(
            self,
            "Pages",
            destination_bucket=self.bucket,
            sources=[bundle, s3deploy.Source.json_data(web_bundle.CONFIG_KEY, config)],
            exclude=["assets/*"],
            prune=True,
            cache_control=[s3deploy.CacheControl.no_cache()],
            distribution=self.distribution,
            distribution_paths=["/index.html", f"/{web_bundle.CONFIG_KEY}", "/ui", "/ui/*"],
            memory_limit=512,
        )
        pages.node.add_dependency(assets)  # index.html names chunks that must already be there
        self._acknowledge()
        self._acknowledge_deployment_handler()
        CfnOutput(self, "SiteUrl", value=site_url)
        CfnOutput(self, "WebClientId", value=self.client.user_pool_client_id)
        CfnOutput(self, "AuthDomainUrl", value=auth_url)

    def _acknowledge(self) -> None:
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-CFR1",
                reason="No geo restriction: TLM's users are wherever its operators are; operators may add one.",
            ),
            Acknowledgment(
                id="AwsSolutions-CFR2",
                reason="WAF is attached per environment by the operators (cost), as for the API stage.",
            ),
            Acknowledgment(
                id="AwsSolutions-CFR4",
                reason="The default *.cloudfront.net certificate (no custom domain): CloudFront then allows "
                "TLSv1 at the viewer whatever the minimum set; a custom domain gets TLS_V1_2_2021.",
            ),
        )

    def _acknowledge_deployment_handler(self) -> None:
        """CDK's BucketDeployment custom resource (one singleton Lambda, run at deploy time only)."""
        (handler,) = [c for c in self.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
        copy = "copies the bundle from CDK's asset bucket into this site bucket"
        Validations.of(handler).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                reason="CDK's BucketDeployment handler: the managed policy only writes its own logs.",
            ),
            Acknowledgment(id="AwsSolutions-L1", reason="CDK's BucketDeployment handler pins its own runtime."),
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Action::{action}]",
                    reason=f"CDK's BucketDeployment handler {copy} (read, sync, prune): bucket-grant verbs.",
                )
                for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*")
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
                "<AWS::Region>/*]",
                reason=f"CDK's BucketDeployment handler {copy}: it reads the bundle's asset object there.",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{self.get_logical_id(self.bucket.node.default_child)}.Arn>/*]",
                reason=f"CDK's BucketDeployment handler {copy}: it writes and prunes the site's objects.",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="CDK's BucketDeployment handler creates and reads CloudFront invalidations, which "
                "IAM cannot scope to one distribution in CDK's grant.",
            ),
        )
