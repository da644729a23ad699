<?php
$wp_version = '4.0';
