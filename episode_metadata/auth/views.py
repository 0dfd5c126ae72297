from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from episode_metadata.auth import services
from episode_metadata.auth.serializers import (
    LoginResponseSerializer,
    LoginSerializer,
    MeSerializer,
    UserSerializer,
)
from episode_metadata.common.throttles import ScopedRateThrottleOpenWhileRedisIsDown


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottleOpenWhileRedisIsDown]
    throttle_scope = "login"

    def get_authenticate_header(self, request: Request) -> str:
        return "Bearer"

    @extend_schema(
        request=LoginSerializer,
        responses={200: LoginResponseSerializer},
        auth=[],
        summary="Exchange a username and password for an API token",
    )
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, user = services.log_in(request, **serializer.validated_data)
        return Response({"token": token, "user": UserSerializer(user).data})


class LogoutView(APIView):
    @extend_schema(
        request=None, responses={204: None}, summary="Revoke the token used for this request"
    )
    def post(self, request: Request) -> Response:
        services.log_out(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(
        responses=MeSerializer, summary="The authenticated user, their roles and permissions"
    )
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)
