"""Serializer fields shared by the API apps.

An optional e-mail or web address is stored as "" when it is absent. The generated schema of
a plain ``EmailField`` says ``format: email``, which "" does not satisfy, so a client that
validates responses against the schema would reject every supplier without an address. These
fields document the empty string as the allowed "absent" value.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field({"anyOf": [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}]})
class OptionalEmailField(serializers.EmailField):
    pass


@extend_schema_field({"anyOf": [{"type": "string", "format": "uri"}, {"type": "string", "maxLength": 0}]})
class OptionalURLField(serializers.URLField):
    pass


class OptionalAddressesModelSerializer(serializers.ModelSerializer):
    """Maps the model's optional e-mail and URL columns onto the fields above."""

    def build_standard_field(self, field_name, model_field):
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if model_field.blank and field_class is serializers.EmailField:
            field_class = OptionalEmailField
        elif model_field.blank and field_class is serializers.URLField:
            field_class = OptionalURLField
        return field_class, field_kwargs
