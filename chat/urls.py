from django.urls import path

from chat import consumers, views

app_name = "chat"

urlpatterns = [
    path("", views.conversation_view, name="conversation"),
    path("forget/", views.conversation_forget_view, name="forget"),
]

# Visitors are anonymous: their socket needs the cookie with their token and nothing else, so
# config/asgi.py gives it no session or auth middleware (each would cost on every frame sent).
anonymous_websocket_urlpatterns = [
    path("ws/chat/", consumers.VisitorConsumer.as_asgi()),
]
staff_websocket_urlpatterns = [
    path("ws/desk/", consumers.DeskConsumer.as_asgi()),
]
websocket_urlpatterns = [*anonymous_websocket_urlpatterns, *staff_websocket_urlpatterns]
