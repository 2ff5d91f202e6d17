"""Public verification URLs (pages, JSON API, credential downloads, status lists, issuers, bulk verification)."""

from django.urls import path

from xblocks.certification.credentials import views

app_name = "kafaat_credentials"

urlpatterns = [
    path("verify/<str:reference>/", views.verify_page, name="verify"),
    path("verify/<str:reference>/credential.json", views.credential_document, name="credential"),
    path("verify/<str:reference>/credential.jwt", views.credential_token, name="credential-jwt"),
    path("verify/<str:reference>/badge.svg", views.baked_badge_svg, name="badge-svg"),
    path("verify/<str:reference>/badge.png", views.baked_badge_png, name="badge-png"),
    path("pdf/<str:reference>/", views.certificate_pdf, name="pdf"),
    path("embed/<str:reference>/", views.embed, name="embed"),
    path("profile/<str:slug>/", views.profile_page, name="profile"),
    path("me/profile/", views.my_profile, name="my-profile"),
    path("api/v1/certificates/<str:reference>/", views.verify_json, name="api-verify"),
    path("api/v1/bulk-verify/", views.bulk_verify, name="bulk-verify"),
    path("api/v1/me/verifications/", views.my_verifications, name="my-verifications"),
    path("status/<str:issuer>/<str:purpose>/<int:sequence>/", views.status_list, name="status-list"),
    path("issuers/<str:slug>/", views.issuer_profile, name="issuer"),
    path("achievements/<str:track>/<int:version>/", views.achievement, name="achievement"),
    path("achievements/<str:track>/<int:version>/badge.svg", views.badge_artwork, name="badge-artwork"),
]
