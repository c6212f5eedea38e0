from django.contrib import admin
from django.urls import include, path

from moderation import views as moderation_views
from reports import views as report_views
from reports.api import api as statistics_api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("api/chat/attributes/", report_views.attributes_view, name="visitor-attributes"),
    path("api/chat/delete/", moderation_views.conversation_delete_view, name="visitor-delete"),
    path("api/chat/", include("chat.urls")),
    path("statistikk/", report_views.statistics_page, name="statistics"),
    path("api/", statistics_api.urls),
    path("", include("frontend.urls")),
]
