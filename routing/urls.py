from django.urls import path

from routing import consumers

websocket_urlpatterns = [
    path("ws/dashboard/", consumers.SupervisorConsumer.as_asgi()),
]
