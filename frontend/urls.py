from django.urls import path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path("", views.visitor_page, name="visitor"),
    path("veileder/", views.desk_page, name="desk"),
    path(
        "veileder/logg-inn/",
        views.StaffLoginView.as_view(),
        name="login",
    ),
    path("veileder/logg-ut/", views.logout_view, name="logout"),
    path("vaktleder/", views.dashboard_page, name="dashboard"),
    path("vaktleder/samtaler/<uuid:public_id>/", views.transcript_page, name="transcript"),
    path("tilgjengelighet/", views.accessibility_page, name="accessibility"),
]
