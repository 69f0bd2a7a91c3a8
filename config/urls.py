"""URL routes: the admin for researchers and /study/ for participants."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve


def media(request, path: str):
    """Serve a panel file from MEDIA_ROOT as it is now (tests give each test its own folder)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("study/", include("experiment.urls")),
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", media),
]
