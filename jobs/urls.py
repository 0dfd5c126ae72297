from rest_framework.routers import DefaultRouter

from jobs.views import JobTypeViewSet, JobViewSet

router = DefaultRouter()
router.include_root_view = False
router.trailing_slash = "/?"
router.register("jobs", JobViewSet, basename="job")
router.register("job-types", JobTypeViewSet, basename="job-type")

urlpatterns = router.urls
