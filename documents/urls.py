from django.urls import path

from documents import inbox, review_views, views

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

# Inbox: saved views and bulk actions.
urlpatterns += [
    path("ansichten/", inbox.saved_view_create, name="saved-view-create"),
    path("ansichten/<uuid:view_id>/loeschen/", inbox.saved_view_delete, name="saved-view-delete"),
    path("sammelaktion/", inbox.bulk_action, name="bulk"),
]

# Review screen side actions.
urlpatterns += [
    path("dokumente/<uuid:document_id>/pruefen/vorschau/", review_views.review_validate, name="review-validate"),
    path("dokumente/<uuid:document_id>/typ/", review_views.review_set_type, name="review-type"),
    path("dokumente/<uuid:document_id>/lieferant/", review_views.review_set_supplier, name="review-supplier"),
    path(
        "dokumente/<uuid:document_id>/lieferant/suche/",
        review_views.review_supplier_search,
        name="review-supplier-search",
    ),
    path("dokumente/<uuid:document_id>/schlagwoerter/", review_views.review_set_tags, name="review-tags"),
    path("dokumente/<uuid:document_id>/notizen/", review_views.review_add_note, name="review-note"),
    path("dokumente/<uuid:document_id>/beziehungen/", review_views.review_add_relation, name="review-relation"),
    path("dokumente/<uuid:document_id>/neu-verarbeiten/", review_views.review_reprocess, name="review-reprocess"),
    path("dokumente/<uuid:document_id>/stand/", review_views.review_changes, name="review-changes"),
    path("pruefung/<uuid:document_id>/ueberspringen/", review_views.review_skip, name="queue-skip"),
]

# Review queue and full-text search.
urlpatterns += [
    path("pruefung/", views.review_queue_page, name="queue"),
    path("pruefung/naechstes/", views.review_queue_claim_next, name="queue-claim-next"),
    path("pruefung/<uuid:document_id>/zurueckgeben/", views.review_queue_release, name="queue-release"),
    path("suche/", views.document_search_page, name="search"),
]
