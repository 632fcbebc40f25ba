from django.urls import path

from extraction import views

app_name = "extraction"
urlpatterns = [
    path("dokumente/<uuid:document_id>/fragen/", views.model_ask, name="model-ask"),
]
