from django.apps import AppConfig


class OcrConfig(AppConfig):
    name = "ocr"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        import cv2

        # One thread per worker process, as Tesseract runs (OMP_THREAD_LIMIT=1): workers are
        # sized one per core, and OpenCV's own thread pool would take a second core for the
        # resize/warp stages from the worker beside it (and costs ~10 % more CPU in total).
        cv2.setNumThreads(1)
