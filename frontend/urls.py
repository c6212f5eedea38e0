from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path("", views.visitor_page, name="visitor"),
    path("veileder/", views.desk_page, name="desk"),
    path(
        "veileder/logg-inn/",
        auth_views.LoginView.as_view(template_name="frontend/login.html"),
        name="login",
    ),
    path("veileder/logg-ut/", views.logout_view, name="logout"),
    path("vaktleder/", views.dashboard_page, name="dashboard"),
    path("vaktleder/samtaler/<uuid:public_id>/", views.transcript_page, name="transcript"),
    path("tilgjengelighet/", views.accessibility_page, name="accessibility"),
]
