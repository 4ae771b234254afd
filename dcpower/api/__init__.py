"""REST API plumbing shared by every app: base serializer and viewset, brief related objects,
pagination, permissions and error handling. Domain apps declare only their own resources."""
