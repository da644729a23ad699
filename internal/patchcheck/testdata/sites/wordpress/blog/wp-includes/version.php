<?php
$wp_version = '5.8.1';
