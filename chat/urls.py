from django.urls import path

from chat import consumers, views

app_name = "chat"

urlpatterns = [
    path("", views.conversation_view, name="conversation"),
    path("forget/", views.conversation_forget_view, name="forget"),
]

websocket_urlpatterns = [
    path("ws/chat/", consumers.VisitorConsumer.as_asgi()),
    path("ws/desk/", consumers.DeskConsumer.as_asgi()),
]
