<?php
// Test fixture front controller.
