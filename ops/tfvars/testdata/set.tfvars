# Production scalardl root.
scalardl = {
  blue_resource_count        = "3"
  blue_image_tag             = "2.1.0" # pinned after the 2021 upgrade
  blue_discoverable_by_envoy = "true"
  green_image_tag            = "2.1.0"
}

envoy = {
  tag = "v1.14.1"
}
