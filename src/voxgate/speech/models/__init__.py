"""Model files shipped inside the package (see SMART_TURN_LICENSE.txt)."""
