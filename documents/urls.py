from django.urls import path

from documents import views

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("hochladen/", views.document_upload, name="upload"),
    path("dokumente/<uuid:document_id>/", views.document_review, name="review"),
    path("dokumente/<uuid:document_id>/pruefen/", views.document_review_submit, name="review-submit"),
    path("dokumente/<uuid:document_id>/original/", views.document_original, name="original"),
    path("dokumente/<uuid:document_id>/vorschau.jpg", views.document_thumbnail, name="thumbnail"),
    path("dokumente/<uuid:document_id>/archiv.pdf", views.document_archive, name="archive"),
    path("dokumente/<uuid:document_id>/e-rechnung.xml", views.document_einvoice, name="einvoice"),
    path("dokumente/<uuid:document_id>/seiten/<int:page_number>.jpg", views.document_page_image, name="page-image"),
    path("dokumente/<uuid:document_id>/zeile/", views.document_status, name="row"),
    path("dokumente/<uuid:document_id>/fortschritt/", views.document_progress, name="progress"),
]

# Review queue and full-text search.
urlpatterns += [
    path("pruefung/", views.review_queue_page, name="queue"),
    path("pruefung/naechstes/", views.review_queue_claim_next, name="queue-claim-next"),
    path("pruefung/<uuid:document_id>/zurueckgeben/", views.review_queue_release, name="queue-release"),
    path("suche/", views.document_search_page, name="search"),
]
