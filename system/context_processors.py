from django.conf import settings


def ablage(request):
    return {"LIVE_UPDATES": settings.LIVE_UPDATES}
