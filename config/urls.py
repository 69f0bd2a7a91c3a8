"""URL routes: the admin for researchers and /study/ for participants."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.static import serve

# The admin's "View site" link would lead to "/", which leads back to the admin: the site has
# no pages of its own for researchers (participants' pages all need their study link).
admin.site.site_url = None


def media(request, path: str):
    """Serve a panel file from MEDIA_ROOT as it is now (tests give each test its own folder)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    # Only researchers come to the bare address (participants always have a /study/ link).
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("study/", include("experiment.urls")),
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", media),
]
